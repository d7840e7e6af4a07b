"""The Gradescope front end: the otter autograder zip and the otter plugin that grades in it."""
