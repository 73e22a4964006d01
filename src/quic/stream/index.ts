/** The stream layer: streams, flow control and the per-connection stream manager (RFC 9000 sections 2-4). */
export * from "./stream-id.js";
export * from "./frames.js";
export * from "./flow-control.js";
export * from "./send-stream.js";
export * from "./recv-stream.js";
export * from "./manager.js";
