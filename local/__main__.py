"""`python -m local [options]` runs the local runtime; `python -m local invoke …` one function;
`python -m local users …` manages the support console's users; `python -m local keys …` the
partner API's keys."""

import sys

if sys.argv[1:2] == ["invoke"]:
    from local.invoke import main as invoke_main

    sys.exit(invoke_main(sys.argv[2:]))
elif sys.argv[1:2] == ["users"]:
    from local.users import main as users_main

    sys.exit(users_main(sys.argv[2:]))
elif sys.argv[1:2] == ["keys"]:
    from local.keys import main as keys_main

    sys.exit(keys_main(sys.argv[2:]))
else:
    from local.runtime.server import main

    main()
