"""One compose check per module; each ends with `check = TheCheck()`."""
