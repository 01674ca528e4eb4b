#!/usr/bin/env python3
"""Connection load for bench/reliability.sh (Python standard library only).

  hold_connections.py idle HOST PORT N SECONDS
      opens N TLS connections, sends one keep-alive GET on each, keeps them open
      SECONDS, prints how many were established and how many are still open at the end.
  hold_connections.py slowloris HOST PORT N SECONDS
      opens N TLS connections that send half a request head and then one byte every
      2 s; prints how many the server cut and the longest time one was held.
"""
import asyncio
import ssl
import sys
import time


def tls():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def idle_one(host, port, ctx, hold, sem, results):
    async with sem:
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=ctx), 30)
            w.write(f"GET /1k.html HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            await w.drain()
            head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 30)
            if not head.startswith(b"HTTP/1.1 200"):
                results["refused"] += 1
                return
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await r.readexactly(length)
        except Exception:
            results["failed"] += 1
            return
    results["open"] += 1
    await hold.wait()
    # Still open? A closed connection reads EOF at once.
    try:
        data = await asyncio.wait_for(r.read(1), 0.05)
        if data == b"":
            results["closed_early"] += 1
    except asyncio.TimeoutError:
        results["still_open"] += 1
    except Exception:
        results["closed_early"] += 1
    w.close()


async def idle(host, port, n, seconds):
    ctx, hold, sem = tls(), asyncio.Event(), asyncio.Semaphore(200)
    results = dict(open=0, failed=0, refused=0, still_open=0, closed_early=0)
    tasks = [asyncio.create_task(idle_one(host, port, ctx, hold, sem, results)) for _ in range(n)]
    start = time.monotonic()
    while results["open"] + results["failed"] + results["refused"] < n:
        await asyncio.sleep(0.5)
    print(f"established={results['open']} failed={results['failed']} refused={results['refused']} "
          f"in {time.monotonic() - start:.1f}s", flush=True)
    print("HOLDING", flush=True)
    await asyncio.sleep(seconds)
    hold.set()
    await asyncio.gather(*tasks)
    print(f"still_open={results['still_open']} closed_early={results['closed_early']}", flush=True)


async def loris_one(host, port, ctx, results):
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=ctx), 30)
    except Exception:
        results["failed"] += 1
        return
    start = time.monotonic()
    w.write(f"GET / HTTP/1.1\r\nHost: {host}\r\nX-Slow: ".encode())
    try:
        while True:
            await w.drain()
            try:
                data = await asyncio.wait_for(r.read(1024), 2)
                if data == b"" or data.startswith(b"HTTP/1.1 408"):
                    break
            except asyncio.TimeoutError:
                w.write(b"a")
    except Exception:
        pass
    results["cut"] += 1
    results["longest"] = max(results["longest"], time.monotonic() - start)
    w.close()


async def slowloris(host, port, n, seconds):
    ctx = tls()
    results = dict(failed=0, cut=0, longest=0.0)
    tasks = [asyncio.create_task(loris_one(host, port, ctx, results)) for _ in range(n)]
    done, pending = await asyncio.wait(tasks, timeout=seconds)
    for t in pending:
        t.cancel()
    print(f"connections={n} failed={results['failed']} cut={results['cut']} "
          f"still_held={len(pending)} longest={results['longest']:.1f}s", flush=True)


if __name__ == "__main__":
    mode, host, port, n, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    asyncio.run({"idle": idle, "slowloris": slowloris}[mode](host, port, n, seconds))
