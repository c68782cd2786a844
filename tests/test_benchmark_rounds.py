"""``benchmarks.rounds.alternated_rounds``: each round measures every variant once, in turn."""

from benchmarks.rounds import alternated_rounds


def test_variants_alternate_within_each_round_and_keep_their_order():
    calls = []

    def measure(variant):
        calls.append(variant)
        return len(calls)

    results = alternated_rounds(iter(["b", "a", "c"]), 2, measure)
    assert calls == ["b", "a", "c", "b", "a", "c"]
    assert list(results) == ["b", "a", "c"]
    assert results == {"b": [1, 4], "a": [2, 5], "c": [3, 6]}
    assert alternated_rounds(["a"], 0, measure) == {"a": []}
