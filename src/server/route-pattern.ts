// The route a request belongs to, for metric labels. A request refused before routing (401, 429,
// a CORS preflight, a 405) is labelled with the pattern of the route that takes its path under
// some method, or "unmatched": never with its raw path, which would add series without bound
// (30,000 requests with 4,000-character paths grew RSS from 267 to 770 MB, and a scrape then
// failed with "Invalid string length").
import type Router from '@koa/router';

export const UNMATCHED_ROUTE = 'unmatched';

export type RoutePatternOf = (path: string, method: string) => string;

export function routePatternOf(routers: readonly Router[]): RoutePatternOf {
  return (path, method) => {
    const wanted = method.toUpperCase();
    let samePathOtherMethod: string | undefined;
    for (const router of routers) {
      for (const layer of router.match(path, wanted).path) {
        // Middleware layers (no methods) are not routes.
        if (layer.methods.length === 0) continue;
        if (layer.methods.includes(wanted)) return String(layer.path);
        samePathOtherMethod ??= String(layer.path);
      }
    }
    return samePathOtherMethod ?? UNMATCHED_ROUTE;
  };
}
