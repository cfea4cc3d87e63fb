"""optgen.compiler.traverse.post_order: children first, shared nodes once, no recursion limit."""
import sys

from optgen.compiler.traverse import post_order


def test_children_come_first_and_a_shared_node_once():
    graph = {"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": []}
    done, order = set(), []
    for node in post_order("a", graph.__getitem__, done):
        assert all(c in done for c in graph[node])
        done.add(node)
        order.append(node)
    assert sorted(order) == ["a", "b", "c", "d"] and order[-1] == "a"


def test_a_chain_far_deeper_than_the_recursion_limit():
    n = 10 * sys.getrecursionlimit()
    depth = {}
    for node in post_order(n, lambda k: [k - 1] if k else [], depth):
        depth[node] = depth[node - 1] + 1 if node else 0
    assert depth[n] == n
