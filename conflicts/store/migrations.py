"""The store's schema, as named migrations applied in order and recorded in `migrations`.

A database made by any earlier ihsim is upgraded in place by the ones it lacks; a migration,
once released, never changes (`tests/test_migrations.py` checks that a database upgraded step
by step has the schema of a fresh one). The verdicts table these create is read and written
only through `conflicts.store.verdicts`.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[str, str]] = [
    (
        "001_initial",
        """
        CREATE TABLE dilemmas (
            id TEXT PRIMARY KEY,
            family TEXT NOT NULL,
            hierarchy TEXT NOT NULL,
            axes TEXT NOT NULL,
            body TEXT NOT NULL
        );
        CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            source TEXT NOT NULL,
            source_sha256 TEXT NOT NULL,
            models TEXT NOT NULL,
            epochs INTEGER NOT NULL,
            params TEXT NOT NULL,
            dilemma_count INTEGER NOT NULL
        );
        CREATE TABLE run_dilemmas (
            run_id TEXT NOT NULL REFERENCES runs(id),
            position INTEGER NOT NULL,
            dilemma_id TEXT NOT NULL REFERENCES dilemmas(id),
            PRIMARY KEY (run_id, position)
        );
        CREATE TABLE transcripts (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs(id),
            dilemma_id TEXT NOT NULL REFERENCES dilemmas(id),
            model TEXT NOT NULL,
            epoch INTEGER NOT NULL,
            status TEXT NOT NULL,
            messages TEXT NOT NULL,
            final_answer TEXT NOT NULL,
            reasoning TEXT,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            latency_ms REAL NOT NULL,
            error TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (run_id, dilemma_id, model, epoch)
        );
        CREATE TABLE verdicts (
            transcript_id INTEGER NOT NULL REFERENCES transcripts(id),
            principal TEXT NOT NULL,
            classifier TEXT NOT NULL,
            classifier_version TEXT NOT NULL,
            label TEXT NOT NULL,
            confidence REAL,
            evidence TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (transcript_id, principal, classifier, classifier_version)
        );
        CREATE INDEX verdicts_by_classifier ON verdicts (classifier, classifier_version);
        """,
    ),
    ("002_stop_reason", "ALTER TABLE transcripts ADD COLUMN stop_reason TEXT"),
    (
        "003_response_cache",
        """
        CREATE TABLE responses (
            key TEXT PRIMARY KEY,
            model TEXT NOT NULL,
            turn TEXT NOT NULL,
            created_at TEXT NOT NULL
        )
        """,
    ),
    ("004_transcript_cost", "ALTER TABLE transcripts ADD COLUMN cost_usd REAL"),
    (
        # The prescribed winner and loser of each conflict, as rows, so hierarchy adherence is
        # a join; filled from the stored dilemma bodies for databases made before it existed.
        "005_conflict_winners",
        """
        CREATE TABLE dilemma_conflicts (
            dilemma_id TEXT NOT NULL REFERENCES dilemmas(id),
            position INTEGER NOT NULL,
            winner TEXT,
            loser TEXT,
            PRIMARY KEY (dilemma_id, position)
        );
        INSERT INTO dilemma_conflicts
            SELECT d.id, c.key, json_extract(c.value, '$.winner'),
                   CASE json_extract(c.value, '$.winner')
                       WHEN json_extract(c.value, '$.principals[0]')
                           THEN json_extract(c.value, '$.principals[1]')
                       WHEN json_extract(c.value, '$.principals[1]')
                           THEN json_extract(c.value, '$.principals[0]')
                   END
            FROM dilemmas d, json_each(d.body, '$.conflicts') c;
        ALTER TABLE verdicts ADD COLUMN tested INTEGER
        """,
    ),
    (
        # who judged (an LLM judge's model, or the judges that voted), with which prompt, how
        # far the judges agreed, and whether the evidence and the judges disagreed
        "006_judges",
        """
        ALTER TABLE verdicts ADD COLUMN judge TEXT;
        ALTER TABLE verdicts ADD COLUMN prompt_hash TEXT;
        ALTER TABLE verdicts ADD COLUMN agreement REAL;
        ALTER TABLE verdicts ADD COLUMN flagged INTEGER NOT NULL DEFAULT 0
        """,
    ),
    # the settings a judge ran with (temperature, token limit, endpoint), as JSON
    ("007_judge_settings", "ALTER TABLE verdicts ADD COLUMN settings TEXT"),
    (
        # which process is working on which block of a run, so two share it (store/leases.py)
        "008_leases",
        """
        CREATE TABLE leases (
            run_id TEXT NOT NULL REFERENCES runs(id),
            block INTEGER NOT NULL,
            holder TEXT NOT NULL,
            expires REAL NOT NULL,
            PRIMARY KEY (run_id, block)
        )
        """,
    ),
    # finished transcripts of a run counted from the index alone: every caveat, summary and
    # resume counts them, and read from the table it took half a second at 400,000
    (
        "009_transcripts_by_status",
        "CREATE INDEX transcripts_by_status ON transcripts (run_id, status)",
    ),
    (
        # where an imported transcript came from, in the source's own terms (its sample id and
        # epoch, its scores, its metadata), and the key that makes each sample one transcript
        # however many share a prompt: unique within the run, NULL for ihsim's own runs
        "010_transcript_sources",
        """
        ALTER TABLE transcripts ADD COLUMN source_key TEXT;
        ALTER TABLE transcripts ADD COLUMN source TEXT;
        CREATE UNIQUE INDEX transcripts_by_source ON transcripts (run_id, source_key)
        """,
    ),
    (
        # who prevailed in each conflict of each transcript (`conflicts.store.verdicts`): each
        # conflict's two sides as rows (the directive, who issued it and by which channel, whose
        # verdict judges it), and per transcript and classifier the side that won; filled from
        # the stored dilemmas and verdicts for databases made before it existed
        "011_conflict_outcomes",
        """
        CREATE TABLE conflict_sides (
            dilemma_id TEXT NOT NULL REFERENCES dilemmas(id),
            position INTEGER NOT NULL,
            side INTEGER NOT NULL,
            directive TEXT NOT NULL,
            issuer TEXT NOT NULL,
            authority TEXT NOT NULL,
            channel TEXT NOT NULL,
            claims TEXT,
            judged_by TEXT NOT NULL,
            PRIMARY KEY (dilemma_id, position, side)
        ) WITHOUT ROWID;
        INSERT INTO conflict_sides
            SELECT d.id, c.key, s.key, s.value,
                   COALESCE(json_extract(x.value, '$.principal'),
                            json_extract(c.value, '$.principals[' || s.key || ']')),
                   COALESCE(json_extract(x.value, '$.authority'),
                            json_extract(c.value, '$.principals[' || s.key || ']')),
                   COALESCE(json_extract(x.value, '$.channel'), 'unknown'),
                   json_extract(x.value, '$.claims'),
                   COALESCE(json_extract(x.value, '$.judged_as'),
                            json_extract(x.value, '$.principal'),
                            json_extract(c.value, '$.principals[' || s.key || ']'))
            FROM dilemmas d, json_each(d.body, '$.conflicts') c,
                 json_each(c.value, '$.directives') s
            LEFT JOIN json_each(d.body, '$.directives') x
                ON json_extract(x.value, '$.id') = s.value;
        CREATE TABLE conflict_outcomes (
            transcript_id INTEGER NOT NULL REFERENCES transcripts(id),
            classifier TEXT NOT NULL,
            classifier_version TEXT NOT NULL,
            position INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            PRIMARY KEY (transcript_id, classifier, classifier_version, position)
        ) WITHOUT ROWID;
        INSERT INTO conflict_outcomes
            SELECT va.transcript_id, va.classifier, va.classifier_version, a.position,
                   CASE
                       WHEN va.label = 'comply' AND vb.label IN ('refuse', 'subvert')
                           THEN 'first'
                       WHEN vb.label = 'comply' AND va.label IN ('refuse', 'subvert')
                           THEN 'second'
                       WHEN va.label = 'refuse' AND vb.label = 'refuse' THEN 'both_refused'
                       WHEN va.label IN ('comply', 'refuse', 'subvert')
                            AND vb.label IN ('comply', 'refuse', 'subvert') THEN 'neither'
                       ELSE 'undecided'
                   END
            FROM transcripts t
            JOIN conflict_sides a ON a.dilemma_id = t.dilemma_id AND a.side = 0
            JOIN conflict_sides b
                ON b.dilemma_id = a.dilemma_id AND b.position = a.position AND b.side = 1
            JOIN verdicts va ON va.transcript_id = t.id AND va.principal = a.judged_by
            JOIN verdicts vb ON vb.transcript_id = t.id AND vb.principal = b.judged_by
                AND vb.classifier = va.classifier
                AND vb.classifier_version = va.classifier_version
        """,
    ),
    (
        # prompt-cache tokens per transcript, inside input_tokens (`Usage`); provider batches:
        # each submission recorded before the provider is called (state `submitting`) and its
        # provider id after, so a process killed between the two finds its batch again instead
        # of sending it twice; each request of a batch run by its response-cache key, with its
        # state, attempts, last error and what it cost, billed once to the transcript that used
        # its answer first
        "012_batches",
        """
        ALTER TABLE transcripts ADD COLUMN cache_read_tokens INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE transcripts ADD COLUMN cache_write_tokens INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE batches (
            id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs(id),
            model TEXT NOT NULL,
            provider_id TEXT,
            state TEXT NOT NULL,
            requests INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            ended_at TEXT,
            counts TEXT
        );
        CREATE TABLE batch_requests (
            run_id TEXT NOT NULL REFERENCES runs(id),
            key TEXT NOT NULL,
            model TEXT NOT NULL,
            batch_id TEXT REFERENCES batches(id),
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            error TEXT,
            cost_usd REAL,
            billed INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (run_id, key)
        ) WITHOUT ROWID;
        CREATE INDEX batch_requests_by_batch ON batch_requests (batch_id)
        """,
    ),
    (
        # what the report asks of every dilemma besides its axes, kept beside the body so that
        # reading them parses no body (the setting and the tools' count: ~1.5 s of JSON at
        # 100,000 dilemmas); older rows filled from their bodies
        "013_dilemma_facts",
        """
        ALTER TABLE dilemmas ADD COLUMN setting INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE dilemmas ADD COLUMN tool_count INTEGER NOT NULL DEFAULT 0;
        UPDATE dilemmas SET setting = json_extract(body, '$.setting'),
            tool_count = COALESCE(json_array_length(body, '$.tools'), 0)
        """,
    ),
]
