export * from "./path.js";
export * from "./manager.js";
export * from "./preferred.js";
