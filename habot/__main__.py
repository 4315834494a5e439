from habot.cli import main

main()
