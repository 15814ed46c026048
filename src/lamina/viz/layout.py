"""A layered layout of a directed acyclic graph, drawn top to bottom (the Sugiyama method, kept simple).

1. Rows. An operation's rank is the longest path to it from the other operations. A node with no inputs (a
   tensor such as a parameter or the input) sits in a row of its own just above its first consumer, so a
   layer's weights appear beside the data they meet, not all at the top. Empty rows are dropped.
2. An edge that spans several rows gets a bend point (a dummy node) in each row between, so it runs around
   the nodes instead of through them.
3. Order within a row by the barycenter heuristic: each node moves to the mean position of its neighbours in
   the row above (then below), a few sweeps down and up.
4. x positions: each node as close as possible to the mean x of its neighbours without overlapping the
   node to its left; the row is then shifted so that the pulls balance.

Every step is a loop over lists: no recursion, so a 10,000-op chain lays out as a short one does.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Layout:
    """Centres (x, y) and sizes of the nodes, each edge as a list of points, and the size of the drawing."""

    x: list
    y: list
    width: list
    height: list
    row: list
    routes: list  # one list of (x, y) points per edge, from the producer's bottom to the consumer's top
    total_width: float
    total_height: float


def rows_of(n: int, edges: list) -> list:
    """The row of every node (see the module's docstring, step 1), in topological order without recursion."""
    succ = [[] for _ in range(n)]
    indegree = [0] * n
    for a, b in edges:
        succ[a].append(b)
        indegree[b] += 1
    has_input = [d > 0 for d in indegree]
    rank = [0] * n
    queue = [v for v in range(n) if indegree[v] == 0]
    done = 0
    while queue:
        v = queue.pop()
        done += 1
        for w in succ[v]:
            if has_input[v] and rank[v] + 1 > rank[w]:
                rank[w] = rank[v] + 1
            indegree[w] -= 1
            if indegree[w] == 0:
                queue.append(w)
    if done != n:
        raise ValueError("layout: the graph has a cycle; a computation graph never does")
    row = [0] * n
    for v in range(n):
        if has_input[v]:
            row[v] = 2 * rank[v] + 1
        elif succ[v]:
            row[v] = 2 * min(rank[w] for w in succ[v])
    used = sorted(set(row))
    compact = {r: i for i, r in enumerate(used)}
    return [compact[r] for r in row]


def layout(sizes: list, edges: list, *, row_gap: float = 48.0, node_gap: float = 24.0, margin: float = 20.0,
           sweeps: int = 4) -> Layout:
    """Lay out nodes of the given (width, height) ``sizes`` joined by ``edges`` (pairs of node indices)."""
    n = len(sizes)
    row = rows_of(n, edges)
    widths = [float(w) for w, _ in sizes]
    heights = [float(h) for _, h in sizes]
    # bend points: dummy nodes (index >= n) for edges that span rows
    chains = []
    for a, b in edges:
        chain = [a]
        for r in range(row[a] + 1, row[b]):
            row.append(r)
            widths.append(8.0)
            heights.append(0.0)
            chain.append(len(row) - 1)
        chain.append(b)
        chains.append(chain)
    total = len(row)
    up = [[] for _ in range(total)]
    down = [[] for _ in range(total)]
    for chain in chains:
        for a, b in zip(chain, chain[1:]):
            down[a].append(b)
            up[b].append(a)
    n_rows = max(row) + 1 if row else 0
    rows = [[] for _ in range(n_rows)]
    for v in range(total):
        rows[row[v]].append(v)
    pos = [0.0] * total
    for members in rows:
        for i, v in enumerate(members):
            pos[v] = float(i)
    for sweep in range(sweeps):
        order = range(1, n_rows) if sweep % 2 == 0 else range(n_rows - 2, -1, -1)
        neighbours = up if sweep % 2 == 0 else down
        for r in order:
            members = rows[r]
            key = {}
            for v in members:
                near = neighbours[v]
                key[v] = sum(pos[u] for u in near) / len(near) if near else pos[v]
            members.sort(key=key.__getitem__)
            for i, v in enumerate(members):
                pos[v] = float(i)
    x = [0.0] * total
    for members in rows:
        left = 0.0
        for v in members:
            x[v] = left + widths[v] / 2
            left += widths[v] + node_gap
        shift = left / 2
        for v in members:
            x[v] -= shift
    for sweep in range(3):
        order = range(1, n_rows) if sweep % 2 == 0 else range(n_rows - 2, -1, -1)
        neighbours = up if sweep % 2 == 0 else down
        for r in order:
            _place_row(rows[r], neighbours, x, widths, node_gap)
    # y: rows stacked with their tallest node
    y, top = [0.0] * total, margin
    for members in rows:
        h = max((heights[v] for v in members), default=0.0)
        for v in members:
            y[v] = top + h / 2
        top += h + row_gap
    left_edge = min((x[v] - widths[v] / 2 for v in range(total)), default=0.0)
    for v in range(total):
        x[v] += margin - left_edge
    right_edge = max((x[v] + widths[v] / 2 for v in range(total)), default=0.0)
    routes = []
    for chain in chains:
        a, b = chain[0], chain[-1]
        points = [(x[a], y[a] + heights[a] / 2)]
        points += [(x[d], y[d]) for d in chain[1:-1]]
        points.append((x[b], y[b] - heights[b] / 2))
        routes.append(points)
    return Layout(x[:n], y[:n], widths[:n], heights[:n], row[:n], routes, right_edge + margin,
                  top - row_gap + margin)


def _place_row(members: list, neighbours: list, x: list, widths: list, gap: float) -> None:
    """Move each node of a row towards the mean x of its neighbours, keeping the order and no overlap."""
    if not members:
        return
    desired = []
    for v in members:
        near = neighbours[v]
        desired.append(sum(x[u] for u in near) / len(near) if near else x[v])
    placed = []
    right = None
    for v, want in zip(members, desired):
        cx = want if right is None else max(want, right + gap + widths[v] / 2)
        placed.append(cx)
        right = cx + widths[v] / 2
    shift = sum(d - p for d, p in zip(desired, placed)) / len(members)  # <= 0: the pushes only go right
    for v, p in zip(members, placed):
        x[v] = p + shift
