"""Build the datamart: `python main.py --help` lists the options (see Readme.txt)."""

import sys

from utils.cli import main

if __name__ == "__main__":
    sys.exit(main())
