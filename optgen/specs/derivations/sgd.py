"""Derivations about SGD and torch's momentum form (specs/sgd.py, specs/momentum.py).

With momentum 0 and dampening 0, torch's momentum recursion keeps no memory:
buf = d, and w <- w - lr d is SGD (for nesterov too: d + 0 buf = d). torch's own
SGD skips the buffer when momentum = 0 and so ignores dampening; the momentum
spec's formula does not: from step 2 on, buf = (1 - dampening) d, a step
(1 - dampening) times too short. That is what the last claim shows (expected to
fail for dampening != 0, at step 2).
"""
from optgen.verify import Equivalence, Side

claims = [
    *[Equivalence(
        name="sgd_momentum0_is_sgd" + ("_nesterov" if nest else ""), about=("sgd", "momentum"),
        source="issue 5; torch.optim.SGD",
        statement=f"momentum(momentum=0, dampening=0, nesterov={nest}) is SGD (with the same L2 weight decay)",
        left=Side("momentum", options={"nesterov": nest}, hypers={"momentum": 0, "dampening": 0}),
        right=Side("sgd"), steps=4)
      for nest in (False, True)],
    Equivalence(
        name="sgd_momentum0_with_dampening", about=("sgd", "momentum"), source="torch.optim.SGD",
        statement="momentum(momentum=0) with any dampening is SGD",
        xfail="the momentum formula scales the step by (1 - dampening) from step 2 on; "
              "torch's SGD has no buffer at momentum = 0",
        left=Side("momentum", hypers={"momentum": 0}), right=Side("sgd"), steps=3),
]
