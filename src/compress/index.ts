// Public surface of the SparseLoCo codec: in-memory types, chunk geometry, encoder/decoder,
// payload wire format and aggregation.
export * from './types.js';
export * from './geometry.js';
export * from './codec.js';
export * from './wire.js';
export { roundHalf, halfBits, halfValue, HALF_MAX } from './half.js';
export * from './aggregate.js';
