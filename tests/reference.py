"""Plain NumPy twins of the compiled kernels: slow, obvious, and the yardstick."""

from __future__ import annotations

import numpy as np


def assign(points, centers):
    """Nearest centre (lowest index on ties) and squared distance, by brute force."""
    d2 = ((points[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
    labels = np.argmin(d2, axis=1)
    return labels.astype(np.int32), d2[np.arange(len(points)), labels]


def weighted_sums(points, weights, labels, k):
    totals = np.bincount(labels, weights=weights, minlength=k)
    sums = np.stack(
        [
            np.bincount(labels, weights=weights * points[:, t], minlength=k)
            for t in range(points.shape[1])
        ],
        axis=1,
    )
    return sums, totals


def grid_means(points, weights, cells_per_axis):
    """(means, totals, cell_of_point) of the points merged per cell of a regular grid
    over their bounding box, the cells in row-major order (``_kernels.grid_means``)."""
    points = np.asarray(points, dtype=np.float64)
    low = points.min(axis=0)
    span = np.maximum(points.max(axis=0) - low, 1e-12)
    cells = np.minimum((points - low) / span * cells_per_axis, cells_per_axis - 1)
    keys = np.zeros(len(points), dtype=np.int64)
    for axis in range(points.shape[1]):
        keys = keys * cells_per_axis + cells[:, axis].astype(np.int64)
    _, inverse = np.unique(keys, return_inverse=True)
    totals = np.bincount(inverse, weights=weights)
    sums = np.column_stack(
        [np.bincount(inverse, weights=weights * points[:, axis]) for axis in range(points.shape[1])]
    )
    return sums / totals[:, None], totals, inverse


def lab_of_linear(linear, rgb_to_xyz, white):
    """CIELAB of (n, 3) linear-light RGB (``_kernels.lab_of_linear``), as array operations."""
    xyz = linear @ rgb_to_xyz.T / white
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16.0 / 116.0)
    return np.column_stack(
        [116.0 * f[:, 1] - 16.0, 500.0 * (f[:, 0] - f[:, 1]), 200.0 * (f[:, 1] - f[:, 2])]
    )


def visible_rows(colors):
    """float64 colours as the table measures compare them: RGBA premultiplied by alpha
    (what shows over black), with alpha kept beside."""
    values = colors.astype(np.float64)
    if colors.shape[1] == 4:
        values[:, :3] *= values[:, 3:4] / 255.0
    return values


def table_squared_error(colors, counts, entries, palette):
    """Sum of count x squared distance of each colour to its palette entry, both seen
    as :func:`visible_rows` (``_kernels.table_squared_error``)."""
    diff = visible_rows(colors) - visible_rows(palette)[entries]
    return float((counts * (diff**2).sum(axis=1)).sum())


def table_delta_e(colors, counts, entries, palette, rgb_to_xyz, white):
    """Sum of count x CIEDE2000 between each colour and its palette entry as seen over
    black (``_kernels.table_delta_e``), with scikit-image's CIEDE2000."""
    from skimage.color import deltaE_ciede2000

    def lab(rows):
        srgb = visible_rows(rows)[:, :3] / 255.0
        linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
        return lab_of_linear(linear, rgb_to_xyz, white)

    return float((counts * deltaE_ciede2000(lab(colors), lab(palette)[entries])).sum())


def lloyd_pixels(pixels, centers, *, max_iter=300):
    """Lloyd's algorithm on every pixel (no histogram), to a fixed point of the labels."""
    pixels = pixels.astype(np.float64)
    centers = np.array(centers, dtype=np.float64)
    labels = None
    for _ in range(max_iter):
        new_labels, _ = assign(pixels, centers)
        if labels is not None and np.array_equal(new_labels, labels):
            break
        labels = new_labels
        for j in range(len(centers)):
            members = pixels[labels == j]
            if len(members):
                centers[j] = members.mean(axis=0)
    labels, d2 = assign(pixels, centers)
    return centers, labels, float(d2.sum())


def lloyd_weighted(
    points,
    weights,
    centers,
    *,
    max_iter=300,
    tol=0.0,
    overrelaxation=1.0,
    energy_tol=0.0,
    rejected=None,
    n_fixed=0,
):
    """Weighted Lloyd, step by step: assign, stop if no label changed after a plain
    step, move each centre to its weighted mean (an empty cluster takes the point
    farthest from its centre, farthest first, ties to the higher index), stop if the
    summed squared shift is at most ``tol`` or the energy fell by less than
    ``energy_tol`` of it. With ``overrelaxation`` > 1, steps go that many times as
    far, except the first, the last (``max_iter``), one that fills an empty cluster,
    one whose labels did not change and the one that stops; a step that does not
    lower the energy is replaced by the plain one (its iteration is appended to the
    list ``rejected`` when given). The first ``n_fixed`` centres stay where they are
    and are never refilled.
    Returns (centers, labels, dist2, n_iter)."""
    centers = np.array(centers, dtype=np.float64)
    k = len(centers)
    labels = None
    converged = False
    on_trial = means_of_labels = False
    kept_energy = np.inf
    base_means = None
    squared_norms = float((weights * (points**2).sum(axis=1)).sum())
    n_iter = 0
    for n_iter in range(1, max_iter + 1):
        new_labels, dist2 = assign(points, centers)
        unchanged = labels is not None and np.array_equal(new_labels, labels)
        if means_of_labels and unchanged:
            converged = True
            break
        labels = new_labels
        sums, totals = weighted_sums(points, weights, labels, k)
        energy = float((centers * (totals[:, None] * centers - 2.0 * sums)).sum())
        if on_trial and energy >= kept_energy:
            if rejected is not None:
                rejected.append(n_iter)
            centers = base_means
            on_trial = means_of_labels = False
            continue
        stop = kept_energy - energy < energy_tol * (squared_norms + energy)
        kept_energy = energy
        farthest = np.argsort(dist2, kind="stable")[::-1]
        empty = np.flatnonzero(totals <= 0)
        empty = empty[empty >= n_fixed]
        for cluster, point in zip(empty, farthest, strict=False):
            old, w = labels[point], weights[point]
            if totals[old] - w > 0:
                sums[old] -= w * points[point]
                totals[old] -= w
            sums[cluster], totals[cluster] = w * points[point], w
            labels[point] = cluster
        with np.errstate(invalid="ignore", divide="ignore"):
            base_means = sums / totals[:, None]
        base_means[:n_fixed] = centers[:n_fixed]
        shift = float(((base_means - centers) ** 2).sum())
        stop = stop or shift <= tol
        plain = stop or n_iter in (1, max_iter) or len(empty) or unchanged
        beta = 1.0 if plain else overrelaxation
        centers = base_means if beta == 1.0 else centers + beta * (base_means - centers)
        if stop:
            break
        on_trial = beta != 1.0
        means_of_labels = not on_trial
    if not converged:
        labels, dist2 = assign(points, centers)
    return centers, labels, dist2, n_iter


def kmeans_plusplus(points, weights, k, n_trials, uniforms, fixed=None):
    """Greedy weighted k-means++ driven by the given uniform numbers; ``fixed``
    centres count as chosen from the start, and then all k are drawn by D^2."""

    def pick(cumulative, target):
        return min(int(np.searchsorted(cumulative, target, side="right")), len(cumulative) - 1)

    if fixed is None:
        cumulative = np.cumsum(weights)
        chosen = [pick(cumulative, uniforms[0] * cumulative[-1])]
        closest = ((points - points[chosen[0]]) ** 2).sum(axis=1)
        draws = uniforms[1:]
    else:
        chosen = []
        closest = ((points[:, None, :] - fixed[None]) ** 2).sum(axis=2).min(axis=1)
        draws = uniforms
    for c in range(k - len(chosen)):
        cumulative = np.cumsum(weights * closest)
        best = None
        for t in range(n_trials):
            index = pick(cumulative, draws[c * n_trials + t] * cumulative[-1])
            candidate = np.minimum(closest, ((points - points[index]) ** 2).sum(axis=1))
            potential = float(weights @ candidate)
            if best is None or potential < best[0]:
                best = (potential, index, candidate)
        chosen.append(best[1])
        closest = best[2]
    return np.array(chosen)


def floyd_steinberg(image, palette, level=1.0, skip=None, *, quiet2=0.0, loud2=np.inf, damping=1.0):
    """Serpentine Floyd-Steinberg, pixel by pixel, nearest entry by brute force.

    A pixel takes ``level`` times the error it has received, none of it when its
    squared length is under ``quiet2``; the error it passes on is damped by
    ``damping`` when its squared length is over ``loud2``.
    Returns (H, W) int indices; ``skip`` pixels get -1 and take no part.
    """
    height, width, d = image.shape
    palette = palette.astype(np.float64)
    error = np.zeros((height, width, d))
    out = np.empty((height, width), dtype=np.int64)
    for y in range(height):
        forward = y % 2 == 0
        step = 1 if forward else -1
        for x in range(width) if forward else range(width - 1, -1, -1):
            if skip is not None and skip[y, x]:
                out[y, x] = -1
                continue
            received = error[y, x] * level
            if (received**2).sum() < quiet2:
                received = np.zeros(d)
            value = np.clip(image[y, x].astype(np.float64) + received, 0.0, 255.0)
            rounded = np.floor(value + 0.5)
            index = int(np.argmin(((palette - rounded) ** 2).sum(axis=1)))
            out[y, x] = index
            e = value - palette[index]
            if (e**2).sum() > loud2:
                e = e * damping
            for dy, dx, share in ((0, step, 7), (1, -step, 3), (1, 0, 5), (1, step, 1)):
                yy, xx = y + dy, x + dx
                if 0 <= yy < height and 0 <= xx < width:
                    error[yy, xx] += e * (share / 16.0)
    return out


def ssim_map(image_a, image_b, premultiply=False, data_range=255.0):
    """SSIM map (7 x 7 uniform window, sample covariance) at the pixels whose window
    lies inside the image, by explicit windows: (H - 6, W - 6, C) float64."""
    from numpy.lib.stride_tricks import sliding_window_view

    a, b = image_a.astype(np.float64), image_b.astype(np.float64)
    if premultiply:
        a[..., :3] *= a[..., 3:4] / 255.0
        b[..., :3] *= b[..., 3:4] / 255.0
    windows_a = sliding_window_view(a, (7, 7), axis=(0, 1))  # (H-6, W-6, C, 7, 7)
    windows_b = sliding_window_view(b, (7, 7), axis=(0, 1))
    mean_a, mean_b = windows_a.mean(axis=(3, 4)), windows_b.mean(axis=(3, 4))
    var_a, var_b = windows_a.var(axis=(3, 4), ddof=1), windows_b.var(axis=(3, 4), ddof=1)
    centred_a = windows_a - mean_a[..., None, None]
    centred_b = windows_b - mean_b[..., None, None]
    covariance = (centred_a * centred_b).sum(axis=(3, 4)) / 48.0
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    return ((2 * mean_a * mean_b + c1) * (2 * covariance + c2)) / (
        (mean_a**2 + mean_b**2 + c1) * (var_a + var_b + c2)
    )


def png_filter_rows(samples, kind=-1):
    """PNG scanlines (H, W + 1) of one byte per pixel, every row filtered by filter
    ``kind`` (0 none, 1 sub, 2 up, 3 average, 4 Paeth), or with ``kind=-1`` each row by
    whichever of the five leaves the smallest sum of absolute values read as signed
    bytes, ties to the lower number; with NumPy, blocks of rows at a time."""
    height, width = samples.shape
    rows = np.empty((height, width + 1), dtype=np.uint8)
    block = max(1, (1 << 20) // max(width, 1))  # rows at a time: bounded memory
    for start in range(0, height, block):
        stop = min(height, start + block)
        current = samples[start:stop].astype(np.int16)
        above = np.zeros_like(current)
        above[1:] = current[:-1]
        if start > 0:
            above[0] = samples[start - 1]
        left = np.zeros_like(current)
        left[:, 1:] = current[:, :-1]
        upper_left = np.zeros_like(current)
        upper_left[:, 1:] = above[:, :-1]
        guess = left + above - upper_left
        to_left, to_above = np.abs(guess - left), np.abs(guess - above)
        to_upper_left = np.abs(guess - upper_left)
        paeth = np.where(
            (to_left <= to_above) & (to_left <= to_upper_left),
            left,
            np.where(to_above <= to_upper_left, above, upper_left),
        )
        candidates = np.stack(
            [current, current - left, current - above, current - (left + above) // 2,
             current - paeth]
        ).astype(np.uint8)  # fmt: skip
        costs = np.abs(candidates.view(np.int8).astype(np.int32)).sum(axis=2)
        chosen = costs.argmin(axis=0) if kind < 0 else np.full(stop - start, kind)
        rows[start:stop, 0] = chosen
        rows[start:stop, 1:] = candidates[chosen, np.arange(stop - start)]
    return rows


def png_unfilter_rows(scanlines, height, width, step):
    """The (H, W) samples of PNG scanlines (H rows of a filter number, then W bytes),
    the filters undone as the PNG specification writes them (the Paeth predictor as
    p = a + b - c and the nearest of a, b, c to p), a pixel of ``step`` bytes at a
    time."""
    rows = np.frombuffer(bytes(scanlines), dtype=np.uint8).reshape(height, width + 1)
    out = np.zeros((height, width), dtype=np.int32)
    previous = np.zeros(width, dtype=np.int32)
    for y in range(height):
        kind, raw = rows[y, 0], rows[y, 1:].astype(np.int32)
        current = np.zeros(width, dtype=np.int32)
        for x in range(0, width, step):
            pixel = slice(x, x + step)
            a = current[x - step : x] if x else np.zeros(step, dtype=np.int32)
            b = previous[pixel]
            c = previous[x - step : x] if x else np.zeros(step, dtype=np.int32)
            if kind == 0:
                predicted = 0
            elif kind == 1:
                predicted = a
            elif kind == 2:
                predicted = b
            elif kind == 3:
                predicted = (a + b) // 2
            else:
                p = a + b - c
                pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
                predicted = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
            current[pixel] = (raw[pixel] + predicted) % 256
        out[y] = current
        previous = current
    return out.astype(np.uint8)


def map_with_runs(color_ids, points, nearest, centers, tolerance, band_rows=512):
    """Each pixel's entry, as ``_kernels.runs.map_with_runs`` chooses it: of the left
    and upper neighbours' entries (as already chosen) that are at most ``tolerance``
    farther from its colour than its nearest entry, the closer, left on a tie; none:
    the nearest. Pixels of colour -1 get -1 and are no one's neighbour; the first row
    of each band of ``band_rows`` rows has no upper neighbour. Plain loops."""
    height, width = color_ids.shape
    out = np.full((height, width), -1, dtype=np.int64)
    for y in range(height):
        for x in range(width):
            colour = color_ids[y, x]
            if colour < 0:
                continue

            def distance(entry, colour=colour):
                return float(np.sqrt(((points[colour] - centers[entry]) ** 2).sum()))

            best = int(nearest[colour])
            limit = distance(best) + tolerance
            left = out[y, x - 1] if x > 0 else -1
            above = out[y - 1, x] if y % band_rows else -1
            options = [
                (distance(entry), order, entry)
                for order, entry in enumerate((left, above))
                if entry >= 0 and tolerance > 0 and distance(entry) <= limit
            ]
            out[y, x] = min(options)[2] if options else best
    return out


def lzw_encode(indices, min_code_size):
    """GIF's LZW as the GIF89a specification describes it, with a dict for the
    string table: codes of growing width packed LSB first (``_kernels.lzw``)."""
    clear, end = 1 << min_code_size, (1 << min_code_size) + 1
    codes = []  # (code, width)

    def width(next_code):
        return min(max((next_code - 1).bit_length(), min_code_size + 1), 12)

    table, next_code = {}, end + 1
    codes.append((clear, width(next_code)))
    data = [int(v) for v in np.asarray(indices).reshape(-1)]
    if data:
        prefix = data[0]
        for value in data[1:]:
            if (prefix, value) in table:
                prefix = table[(prefix, value)]
                continue
            codes.append((prefix, width(next_code)))
            if next_code < 4096:
                table[(prefix, value)] = next_code
                next_code += 1
            else:
                codes.append((clear, 12))
                table, next_code = {}, end + 1
            prefix = value
        codes.append((prefix, width(next_code)))
        next_code = min(next_code + 1, 4096)
    codes.append((end, width(next_code)))
    bits, n_bits, out = 0, 0, bytearray()
    for code, size in codes:
        bits |= code << n_bits
        n_bits += size
        while n_bits >= 8:
            out.append(bits & 0xFF)
            bits >>= 8
            n_bits -= 8
    if n_bits:
        out.append(bits & 0xFF)
    return bytes(out)


# SSIMULACRA2's blur and map sums (``_kernels.ssimulacra2``), as kpalette.ssimulacra2
# computed them in NumPy: a Gaussian of sigma 1.5 over 11 taps, SSIM's C2.
C2, RADIUS = 0.0009, 5
TAPS = np.exp(-0.5 * (np.arange(-RADIUS, RADIUS + 1) / 1.5) ** 2)
TAPS = (TAPS / TAPS.sum()).astype(np.float32)


def ssimulacra2_blur(planes: np.ndarray) -> np.ndarray:
    """Gaussian blur of (H, W, C) planes: zero beyond the left and right sides,
    mirrored (edge pixel repeated) beyond the top and bottom, as the ``ssimulacra2``
    package does (it works on the image transposed)."""
    height, width = planes.shape[:2]
    rows = np.arange(-RADIUS, height + RADIUS)
    rows = np.where(rows < 0, -rows - 1, rows)
    rows = np.where(rows >= height, 2 * height - 1 - rows, rows)
    tall = planes[np.clip(rows, 0, height - 1)]
    down = TAPS[0] * tall[:height]
    for tap in range(1, 2 * RADIUS + 1):
        down += TAPS[tap] * tall[tap : tap + height]
    wide = np.zeros((height, width + 2 * RADIUS, planes.shape[2]), dtype=np.float32)
    wide[:, RADIUS : RADIUS + width] = down
    out = TAPS[0] * wide[:, :width]
    for tap in range(1, 2 * RADIUS + 1):
        out += TAPS[tap] * wide[:, tap : tap + width]
    return out


def _ssimulacra2_norms(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per channel: the mean and the 4-norm of (H, W, 3) values."""
    flat = values.reshape(-1, 3).astype(np.float64)
    squared = flat * flat
    return flat.mean(axis=0), np.sqrt(np.sqrt((squared * squared).mean(axis=0)))


def ssimulacra2_scale_features(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(3, 2, 3) numbers of one scale: [channel, norm, (ssim, artefact, detail lost)]."""
    blurred = ssimulacra2_blur(np.concatenate([a, b, a * a, b * b, a * b], axis=-1))
    mu_a, mu_b = blurred[..., 0:3], blurred[..., 3:6]
    s_aa, s_bb, s_ab = blurred[..., 6:9], blurred[..., 9:12], blurred[..., 12:15]
    mu_ab = mu_a * mu_b
    num_m = 1.0 - (mu_a - mu_b) ** 2
    num_s = 2.0 * (s_ab - mu_ab) + C2
    denom_s = (s_aa - mu_a * mu_a) + (s_bb - mu_b * mu_b) + C2
    ssim = np.maximum(1.0 - num_m * num_s / denom_s, 0.0)
    ratio = (1.0 + np.abs(b - mu_b)) / (1.0 + np.abs(a - mu_a)) - 1.0
    out = np.empty((3, 2, 3))
    for index, values in enumerate((ssim, np.maximum(ratio, 0.0), np.maximum(-ratio, 0.0))):
        mean, norm4 = _ssimulacra2_norms(values)
        out[:, 0, index], out[:, 1, index] = mean, norm4
    return out
