from paydiag.cli import main

main()
