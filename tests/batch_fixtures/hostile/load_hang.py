"""Hostile: never finishes loading."""
import time

while True:
    time.sleep(1)
