"""How long `meshc graph` takes, per format, for the render benchmark's generated specs.

The spec is bench_render's: 20 namespaces, each service with two versions, a
header route and a 90/10 split, and an allow rule. Times are wall seconds of
building the graph and writing one format, the spec already loaded (loading
is bench_render's figure), best of ``--repeat``.

    python bench/bench_graph.py [--repeat 3] [--services 200 2000]
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_render import generated_spec
from meshc.compiler.graph import mesh_graph
from meshc.compiler.graph.render import FORMATS
from meshc.compiler.loader import load_mesh


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--services", type=int, nargs="+", default=[200, 2000])
    args = parser.parse_args()
    gc.disable()  # as meshc's commands run
    for count in args.services:
        text = yaml.safe_dump(generated_spec(count), sort_keys=False)
        mesh = load_mesh("bench.yaml", text=text)
        graph = mesh_graph(mesh)
        print(f"{count} services: {len(graph.nodes)} nodes, {len(graph.edges)} edges, "
              f"{len(graph.groups)} groups")  # fmt: skip
        for fmt, draw in FORMATS.items():
            best = float("inf")
            size = 0
            for _ in range(args.repeat):
                start = time.perf_counter()
                size = len(draw(mesh_graph(mesh)))
                best = min(best, time.perf_counter() - start)
            print(f"  {fmt:8s} {best:8.3f} s  {size / 1e6:6.2f} MB")


if __name__ == "__main__":
    main()
