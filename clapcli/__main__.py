from clapcli.cli import main

main()
