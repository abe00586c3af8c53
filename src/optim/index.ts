// Optimizers, schedules and clipping: pure functions over flat buffers.
export { ADAMW_DEFAULTS, adamwInit, adamwUpdate, decayRuns, type AdamWConfig, type AdamWState } from './adamw.js';
export { lrAt, type ScheduleConfig } from './schedule.js';
export { clipGradNorm } from './clip.js';
export { outerSgd, outerNesterov, nesterovInit, type NesterovState } from './outer.js';
