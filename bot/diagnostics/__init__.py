"""How the bot tells what is wrong with itself: its logs and error reports, the list of what runs
degraded, what a failed network call really was, and `golive doctor`'s report lines."""
