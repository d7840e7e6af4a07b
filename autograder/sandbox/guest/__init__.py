"""The untrusted side: runs beside student code, in the zygote and its workers. Imports nothing
here (see :mod:`autograder.sandbox`)."""
