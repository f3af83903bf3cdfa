/**
 * Small dense linear algebra in float64 JavaScript for the PCA fit: the
 * pieces that act on (k+p)-sized blocks, where TF.js kernels would cost more
 * in launches than in arithmetic, or where float32 is not precise enough.
 */

/** The eigen-decomposition of a symmetric matrix. */
export interface SymmetricEigen {
  /** Eigenvalues, in decreasing order. */
  readonly values: Float64Array;
  /** Eigenvectors, n × n row-major: column j is the unit vector of `values[j]`. */
  readonly vectors: Float64Array;
}

/**
 * Diagonalises a symmetric matrix with cyclic Jacobi rotations. Jacobi is
 * slow for large n (O(n³) per sweep) but exact to rounding, robust on
 * clustered or zero eigenvalues, and converges in a few sweeps on the
 * nearly diagonal matrices Rayleigh–Ritz produces; it is used only on the
 * (k+p)² Rayleigh–Ritz matrix.
 * @param matrix - n × n, row-major, symmetric. Not modified.
 * @param n - the order.
 * @param maxSweeps - sweeps before giving up (the vectors are then still orthonormal, only less exact).
 * @default maxSweeps 100
 * @returns eigenvalues in decreasing order (ties keep their index order) and their eigenvectors.
 */
export function jacobiEigen(matrix: Float64Array, n: number, maxSweeps = 100): SymmetricEigen {
  const a = Float64Array.from(matrix);
  // Eigenvectors as rows (Vᵀ), so every rotation touches two contiguous rows.
  const vt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) vt[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += a[i]! * a[i]!;
  // Off-diagonal mass below 1e-10 of the norm: far beyond what float32 input and output can show.
  const stopOff = total * 1e-20;
  // Elements this small cannot keep the sum above stopOff, so rotating them is wasted work; sweeps
  // then concentrate on the clusters that are not diagonal yet.
  const skipBelow = stopOff / (n * n);
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q]! * a[p * n + q]!;
    if (off <= stopOff) break;
    for (let p = 0; p < n - 1; p++) {
      const rowP = p * n;
      for (let q = p + 1; q < n; q++) {
        const rowQ = q * n;
        const apq = a[rowP + q]!;
        if (apq * apq <= skipBelow) continue;
        const app = a[rowP + p]!;
        const aqq = a[rowQ + q]!;
        // An element below the rounding of both diagonal entries only adds noise when rotated away.
        if (Math.abs(app) + 100 * Math.abs(apq) === Math.abs(app) && Math.abs(aqq) + 100 * Math.abs(apq) === Math.abs(aqq)) {
          a[rowP + q] = 0;
          a[rowQ + p] = 0;
          continue;
        }
        const theta = (aqq - app) / (2 * apq);
        const t = Math.abs(theta) > 1e150 ? 1 / (2 * theta) : (theta < 0 ? -1 : 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        // Rows p and q of JᵀAJ off the (p, q) block; the columns follow by symmetry.
        for (let k = 0; k < n; k++) {
          const apk = a[rowP + k]!;
          const aqk = a[rowQ + k]!;
          a[rowP + k] = c * apk - s * aqk;
          a[rowQ + k] = s * apk + c * aqk;
        }
        a[rowP + p] = app - t * apq;
        a[rowQ + q] = aqq + t * apq;
        a[rowP + q] = 0;
        a[rowQ + p] = 0;
        for (let k = 0; k < n; k++) {
          a[k * n + p] = a[rowP + k]!;
          a[k * n + q] = a[rowQ + k]!;
        }
        for (let k = 0; k < n; k++) {
          const vpk = vt[rowP + k]!;
          const vqk = vt[rowQ + k]!;
          vt[rowP + k] = c * vpk - s * vqk;
          vt[rowQ + k] = s * vpk + c * vqk;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((i, j) => a[j * n + j]! - a[i * n + i]! || i - j);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((from, to) => {
    values[to] = a[from * n + from]!;
    for (let k = 0; k < n; k++) vectors[k * n + to] = vt[from * n + k]!;
  });
  return { values, vectors };
}

/**
 * The triangular factor step of Cholesky-QR: given the Gram matrix
 * G = YᵀY of an m × l block Y, returns R⁻¹ (upper triangular, l × l,
 * row-major) with Y = QR, so that Q = Y·R⁻¹ has orthonormal columns. The
 * Gram matrix is scaled to a unit diagonal first, so columns of very
 * different norms do not by themselves cause a breakdown.
 * @param gram - l × l, row-major, symmetric. Not modified.
 * @param l - the order.
 * @param pivotTolerance - the smallest acceptable pivot of the scaled
 *   factorisation; a smaller one means Y is too close to rank-deficient for
 *   Cholesky-QR at the Gram matrix's precision.
 * @returns R⁻¹, or undefined when the factorisation breaks down.
 */
export function choleskyQrInverseFactor(gram: Float64Array, l: number, pivotTolerance: number): Float64Array | undefined {
  const scale = new Float64Array(l);
  for (let i = 0; i < l; i++) {
    const d = gram[i * l + i]!;
    if (!(d > 0) || !Number.isFinite(d)) return undefined;
    scale[i] = Math.sqrt(d);
  }
  // Lower factor L = R'ᵀ of the scaled Gram matrix, row-major, so inner products run along rows.
  const lower = new Float64Array(l * l);
  for (let i = 0; i < l; i++) {
    const rowI = i * l;
    for (let j = 0; j <= i; j++) {
      const rowJ = j * l;
      let sum = gram[rowI + j]! / (scale[i]! * scale[j]!);
      for (let k = 0; k < j; k++) sum -= lower[rowI + k]! * lower[rowJ + k]!;
      if (i === j) {
        if (!(sum > pivotTolerance)) return undefined;
        lower[rowI + i] = Math.sqrt(sum);
      } else {
        lower[rowI + j] = sum / lower[rowJ + j]!;
      }
    }
  }
  // X = L⁻¹ row by row (row i is a combination of rows k < i), then R⁻¹ = D⁻¹·Xᵀ.
  const x = new Float64Array(l * l);
  for (let i = 0; i < l; i++) {
    const rowI = i * l;
    x[rowI + i] = 1;
    for (let k = 0; k < i; k++) {
      const lik = lower[rowI + k]!;
      if (lik === 0) continue;
      const rowK = k * l;
      for (let m = 0; m <= k; m++) x[rowI + m]! -= lik * x[rowK + m]!;
    }
    const inverseDiagonal = 1 / lower[rowI + i]!;
    for (let m = 0; m <= i; m++) x[rowI + m]! *= inverseDiagonal;
  }
  const inverse = new Float64Array(l * l);
  for (let i = 0; i < l; i++) {
    for (let m = 0; m <= i; m++) inverse[m * l + i] = x[i * l + m]! / scale[m]!;
  }
  return inverse;
}

/**
 * Orthonormalises columns `start … l-1` of a block in place by modified
 * Gram–Schmidt, run twice per column ("twice is enough"), each against the
 * columns `start … j-1` before it: the caller guarantees they are already
 * orthogonal to columns `0 … start-1`, which must be orthonormal. A column
 * that is (numerically) in the span of the ones before it, or zero, is
 * replaced by the next standard basis vector e₀, e₁, … that is not,
 * orthonormalised against all columns before it; so the result is always
 * orthonormal, and deterministic for degenerate input.
 * @param columns - at least l columns of length m, column-major (column j at j·m).
 * @param m - the column length; must be at least l.
 * @param l - the number of columns.
 * @param dependenceTolerance - a column whose norm after orthogonalisation
 *   is at most this fraction of its reference norm, or of the largest
 *   reference norm, counts as dependent.
 * @param start - the first column to process.
 * @param referenceNorms - per column, the norm dependence is judged
 *   against; by default the column's own norm on entry.
 * @default start 0
 * @returns the number of columns that were replaced.
 */
export function orthonormalizeColumns(
  columns: Float64Array,
  m: number,
  l: number,
  dependenceTolerance: number,
  start = 0,
  referenceNorms?: Float64Array,
): number {
  const reference = referenceNorms ?? new Float64Array(l);
  if (referenceNorms === undefined) for (let j = start; j < l; j++) reference[j] = norm(columns, j * m, m);
  let maxNorm = 0;
  for (let j = start; j < l; j++) maxNorm = Math.max(maxNorm, reference[j]!);
  let replaced = 0;
  let nextCandidate = 0;
  for (let j = start; j < l; j++) {
    const offset = j * m;
    orthogonalizeAgainst(columns, offset, m, start, j);
    orthogonalizeAgainst(columns, offset, m, start, j);
    let after = norm(columns, offset, m);
    if (!(after > dependenceTolerance * reference[j]! && after > dependenceTolerance * maxNorm)) {
      replaced++;
      after = 0;
      let best = -1;
      let bestNorm = 0;
      // Some candidate e_i keeps at least sqrt((m - j) / m) of its norm, so the scan always finds one.
      for (let tried = 0; tried < m && after <= 0.5; tried++) {
        const candidate = nextCandidate;
        nextCandidate = (nextCandidate + 1) % m;
        after = completionCandidate(columns, offset, m, j, candidate);
        if (after > bestNorm) {
          bestNorm = after;
          best = candidate;
        }
      }
      if (after <= 0.5) after = completionCandidate(columns, offset, m, j, best);
    }
    const inverse = 1 / after;
    for (let t = offset; t < offset + m; t++) columns[t]! *= inverse;
  }
  return replaced;
}

/** Puts e_candidate orthogonalised against columns 0 … j-1 at `offset`; returns its norm. */
function completionCandidate(columns: Float64Array, offset: number, m: number, j: number, candidate: number): number {
  columns.fill(0, offset, offset + m);
  columns[offset + candidate] = 1;
  orthogonalizeAgainst(columns, offset, m, 0, j);
  orthogonalizeAgainst(columns, offset, m, 0, j);
  return norm(columns, offset, m);
}

function norm(columns: Float64Array, start: number, m: number): number {
  let sum = 0;
  for (let t = start; t < start + m; t++) sum += columns[t]! * columns[t]!;
  return Math.sqrt(sum);
}

function orthogonalizeAgainst(columns: Float64Array, offset: number, m: number, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const other = i * m;
    let dot = 0;
    for (let t = 0; t < m; t++) dot += columns[other + t]! * columns[offset + t]!;
    if (dot === 0) continue;
    for (let t = 0; t < m; t++) columns[offset + t]! -= dot * columns[other + t]!;
  }
}
