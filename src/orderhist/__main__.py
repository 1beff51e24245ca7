from orderhist.cli import main

main()
