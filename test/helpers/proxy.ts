/**
 * A tiny reverse proxy giving several server processes one origin, as a deployment would
 * (docs/architecture.md §3): FHIR bases (`/{sandbox}/data…`) round-robin over the API nodes, everything else
 * to the auth node.
 */
import http from 'node:http';

export function roleProxy(port: number, apis: number[], auth: number): http.Server {
  let next = 0;
  return http
    .createServer((req, res) => {
      const target = /^\/[^/]+\/data(\/|$)/.test(req.url ?? '') ? apis[next++ % apis.length] : auth;
      const up = http.request({ host: '127.0.0.1', port: target, path: req.url, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      req.pipe(up);
    })
    .listen(port, '127.0.0.1');
}
