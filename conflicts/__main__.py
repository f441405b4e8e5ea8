from conflicts.cli import main

main()
