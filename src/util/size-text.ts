/**
 * Sizes and durations for people, as the timeline, `status` and `top` print them. Sizes count
 * in powers of 1024 with the unit names `--retention` reads (KB, MB, GB), so a limit and the
 * size it limits read alike.
 */
const UNITS = ['KB', 'MB', 'GB', 'TB']

/** `812 B`, `64.0 KB`, `23.1 MB`, `1.2 GB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  let value = bytes / 1024
  let unit = 0
  // 1023.96 KB would print as "1024.0 KB": move up a unit before the rounding does.
  while (value >= 1023.95 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${UNITS[unit]}`
}

/** A duration in seconds with one decimal: `0.3 s`, `2.4 s`, `95.0 s`. */
export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`
}
