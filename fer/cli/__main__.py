from fer.cli.main import main

main()
