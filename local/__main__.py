"""`python -m local [options]` runs the local runtime; `python -m local invoke …` one function."""

import sys

if sys.argv[1:2] == ["invoke"]:
    from local.invoke import main as invoke_main

    sys.exit(invoke_main(sys.argv[2:]))
else:
    from local.runtime.server import main

    main()
