/** For tests: undici's dispatch controller as a ResponseBody uses it, recording what was done. */
export function fakeController() {
  const c = {
    aborted: false,
    paused: false,
    reason: null as Error | null,
    pauses: 0,
    resumes: 0,
    abort(reason: Error) {
      c.aborted = true;
      c.reason = reason;
    },
    pause() {
      c.paused = true;
      c.pauses++;
    },
    resume() {
      c.paused = false;
      c.resumes++;
    },
  };
  return c;
}
