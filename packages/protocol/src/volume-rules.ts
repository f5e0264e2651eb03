/**
 * Rules about a new volume's sizes that both sides apply: the engine in its input schema (so the
 * client gets a 400 before anything is made) and the node before it creates a file (so no other
 * caller gets past it). One function, so the two can never disagree again: the engine once
 * accepted an initial size for cow disks that the node then refused, a 500 to the client.
 */

type NewVolumeFormat = "COW" | "RAW";
type NewVolumePreallocation = "SPARSE" | "PREALLOCATED";

/**
 * What is wrong with an initial size for a file-domain volume, or undefined if nothing is. File
 * volumes grow by themselves, so an initial size only means something for a preallocated raw
 * volume, and never more than its capacity. Absent and 0 both mean "none".
 */
export function initialSizeProblem(v: { format: NewVolumeFormat; preallocate: NewVolumePreallocation; initialSize?: number; capacity: number }): string | undefined {
  if (v.initialSize === undefined || v.initialSize === 0) return undefined;
  if (v.format === "COW" || v.preallocate === "SPARSE") {
    return `an initial size applies only to preallocated raw volumes, not to ${v.preallocate.toLowerCase()} ${v.format.toLowerCase()} ones`;
  }
  if (v.initialSize > v.capacity) return `the initial size ${v.initialSize} exceeds the capacity ${v.capacity}`;
  return undefined;
}
