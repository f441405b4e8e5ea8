from conflicts.cli.group import main

main()
