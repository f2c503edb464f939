/**
 * The time source of the launch lifecycle (launch lifetimes, the single sign-on window). Injected so
 * that tests move time forward instead of sleeping through a window.
 */
export type Clock = () => number;

/** Milliseconds since the epoch, from the system clock. */
export const systemClock: Clock = () => Date.now();
