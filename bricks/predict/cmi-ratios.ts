/**
 * What CMI-PRED's ratios mean, apart from the brick so that planners and the
 * reading of stored plans can use it without loading its models.
 */

/** How many times its width or height the picture reaches on each side: 1 keeps a side as it is. */
export interface SideRatios {
  readonly left: number;
  readonly right: number;
  readonly top: number;
  readonly bottom: number;
}

/**
 * The published meaning of CMI-PRED's ratios: each is a multiplier of its side,
 * except that four equal ratios r ≠ 1 expand the whole picture r times, each
 * side getting 0.5·r + 0.5 (so `ratio: 2` doubles the width and the height).
 */
export function sideMultipliers(r: SideRatios): SideRatios {
  if (r.left === r.right && r.left === r.top && r.left === r.bottom && r.left !== 1) {
    const each = 0.5 * r.left + 0.5;
    return { left: each, right: each, top: each, bottom: each };
  }
  return r;
}

/**
 * The inputs that give each side the multiplier asked for: four equal
 * multipliers m ≠ 1 are written as `ratio: 2m − 1` (sideMultipliers undoes it),
 * anything else as the four side ratios.
 */
export function ratioInputs(sides: SideRatios): { ratio: number } | { left_ratio: number; right_ratio: number; top_ratio: number; bottom_ratio: number } {
  const round = (v: number): number => Number(v.toFixed(4));
  if (sides.left === sides.right && sides.left === sides.top && sides.left === sides.bottom && sides.left !== 1) return { ratio: round(2 * sides.left - 1) };
  return { left_ratio: round(sides.left), right_ratio: round(sides.right), top_ratio: round(sides.top), bottom_ratio: round(sides.bottom) };
}
