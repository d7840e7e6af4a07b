"""Category: early exit. Attack: os._exit(0) while the file is being loaded, before the grader
has asked anything: a test runner that treats exit code 0 as success would pass it."""
import os

print("PASS: all tests passed")
os._exit(0)
