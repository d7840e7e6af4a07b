"""The only way into student code. Modules here hold the plain pieces both sides of the sandbox
read: :mod:`.values` (a return value as named float64 arrays).

This file imports nothing: the worker imports its modules through this package, and anything
imported here would be in every zygote.
"""
