import type { LabHostSpec } from "./hosts";

/** The default lab: DC laba with 4 storage hosts and a compute host, DC labb with 2 storage hosts. */
export const DEFAULT_LAYOUT: LabHostSpec[] = [
  { name: "laba1", dc: "laba", brickDisks: 1 },
  { name: "laba2", dc: "laba", brickDisks: 1 },
  { name: "laba3", dc: "laba", brickDisks: 1 },
  { name: "laba4", dc: "laba", brickDisks: 1 },
  { name: "laba5", dc: "laba", brickDisks: 0 }, // compute: a FUSE client, no bricks
  { name: "labb1", dc: "labb", brickDisks: 1 },
  { name: "labb2", dc: "labb", brickDisks: 1 },
];
