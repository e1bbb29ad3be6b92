import type { RequestExtra } from "./context.js";

/** Sends `notifications/progress` for a request that carries a progress token. */
export type ProgressReporter = (progress: number, total: number | undefined, message: string) => void;

/**
 * A reporter for this request, or null when the client asked for no progress. Progress must grow
 * with every notification: a value not above the last one sent is raised just past it.
 */
export function progressReporter(extra: RequestExtra | undefined): ProgressReporter | null {
  const token = extra?._meta?.progressToken;
  const send = extra?.sendNotification;
  if (token === undefined || send === undefined) return null;
  let last = 0;
  return (progress, total, message) => {
    const value = progress > last ? progress : last + 0.001;
    last = value;
    const params = total === undefined ? { progressToken: token, progress: value, message } : { progressToken: token, progress: value, total, message };
    // A client that went away is no reason to fail the call.
    void send({ method: "notifications/progress", params }).catch(() => undefined);
  };
}
