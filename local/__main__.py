from local.runtime.server import main

main()
