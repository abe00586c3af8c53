// The model: configs and presets, the flat parameter layout, the LLaMA forward and its sizing.
export { PRESETS, getPreset, presetNames, validateConfig, headDim, llamaFfn, type ModelConfig } from './config.js';
export { paramLayout, initParams, view, type ParamLayout, type ParamSpec } from './params.js';
export { createLlama, forward, lossOf, ropeTables, type Llama } from './llama.js';
export { modelInfo, type ModelInfo } from './info.js';
