// Live updates: the /api/v1/live WebSocket, reconnected with a capped backoff. After a
// reconnect (or an overflow) `onResync` runs so the page reloads its state from the API.

export function connectLive(channels, onMessage, { onState = () => {}, onResync = () => {} } = {}) {
  let socket = null;
  let delay = 500;
  let closed = false;
  let first = true;

  function open() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = channels.length ? `?channels=${encodeURIComponent(channels.join(","))}` : "";
    socket = new WebSocket(`${scheme}://${location.host}/api/v1/live${query}`);
    socket.addEventListener("open", () => {
      delay = 500;
      onState("online");
      if (!first) onResync();
      first = false;
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === "overflow") {
        onResync();
        return;
      }
      onMessage(message);
    });
    socket.addEventListener("close", () => {
      onState("offline");
      if (closed) return;
      setTimeout(open, delay);
      delay = Math.min(delay * 2, 10000);
    });
  }

  open();
  return {
    close() {
      closed = true;
      if (socket) socket.close();
    },
  };
}
