import type { LabHostSpec } from "./hosts";

/**
 * The default lab: DC laba with storage hosts laba1..laba4, a compute host laba5, and two spare
 * storage hosts laba6, laba7 that the first inventory leaves out (the growth test adds them);
 * DC labb with 2 storage hosts.
 */
export const DEFAULT_LAYOUT: LabHostSpec[] = [
  { name: "laba1", dc: "laba", brickDisks: 1 },
  { name: "laba2", dc: "laba", brickDisks: 1 },
  { name: "laba3", dc: "laba", brickDisks: 1 },
  { name: "laba4", dc: "laba", brickDisks: 1 },
  { name: "laba5", dc: "laba", brickDisks: 0 }, // compute: a FUSE client, no bricks
  { name: "labb1", dc: "labb", brickDisks: 1 },
  { name: "labb2", dc: "labb", brickDisks: 1 },
  { name: "laba6", dc: "laba", brickDisks: 1 }, // spare: joins laba when the inventory grows
  { name: "laba7", dc: "laba", brickDisks: 1 }, // spare
];

/** Hosts the first lab inventory leaves out. */
export const SPARE_HOSTS = ["laba6", "laba7"];
