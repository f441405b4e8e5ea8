"""Analysis: the report's numbers, computed from the verdicts in the store.

- `measures`: rates per model and principal, covert share, hierarchy adherence, breakdowns.
- `cluster_sums`: the report's clusters read once into arrays, every breakdown's sums.
- `intervals`: Wilson intervals, Fisher's exact test, Holm's correction, Cohen's kappa.
- `comparisons`: which model (or axis value) subverts more, and whether it is significant.
- `pairings`: what arms on the same dilemmas share, for paired tests (McNemar, CMH).
- `correction`: rates corrected for the classifier's error measured on gold labels.
- `power`: dilemmas and epochs a comparison needs, and what a run could detect.
- `revealed`: who prevails over whom per pair of issuers, Bradley-Terry strengths, the
  revealed hierarchy against the prescribed one, and two models' compared edge by edge.
- `drilldown`: the transcripts behind a report cell.
- `smoke`: what a few dilemmas say about a model before a big run (`ihsim smoke`).
- `source_scores`: an import's verdicts against the scores its source gave (`validate --scores`).

May import: `run`, `providers`, `store`, `scenarios` and what they may.
"""
