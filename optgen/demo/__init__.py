"""The showcase behind ``make demo`` (run it with ``python -m optgen.demo``).

rosenbrock: every optimizer from one start on the Rosenbrock valley, its path and timings;
explain: why each run ends where it does, from its measured path;
table: the printed table; landscape: a small MLP trained by two optimizers and its
filter-normalised loss landscape; plots: the two PNGs (matplotlib, optional).
"""
