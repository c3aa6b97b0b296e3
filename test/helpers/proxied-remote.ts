// The rig for tests of the remote path meeting an upstream's connection behaviour: an upstream
// gateway serving the stories chat model as "chat", the loopback TCP proxy in front of it, and a
// front gateway whose `remote` model "chat" reaches the upstream through that proxy.
import { models } from './paths.js';
import { startTcpProxy, type TcpProxy, type TcpProxyOptions } from './tcp-proxy.js';
import { startTestGateway, type TestGateway } from './test-gateway.js';

export interface ProxiedRemote {
  upstream: TestGateway;
  proxy: TcpProxy;
  /** The front gateway, whose model "chat" is the remote one. */
  gateway: TestGateway;
  close(): Promise<void>;
}

export interface ProxiedRemoteOptions {
  proxy?: TcpProxyOptions;
  /** The front gateway's [plugins.remote] table, as TOML lines. */
  remotePlugin: string;
}

export async function startProxiedRemote(options: ProxiedRemoteOptions): Promise<ProxiedRemote> {
  const upstream = await startTestGateway(`
[api.models.chat]
path = "${models.storiesChatml}"
type = "chat"
context_length = 512
threads = 1
parallel = 1
`);
  let proxy: TcpProxy | undefined;
  try {
    proxy = await startTcpProxy(new URL(upstream.url), options.proxy);
    const gateway = await startTestGateway(`
[plugins.remote]
${options.remotePlugin}

[api.models.chat]
backend = "remote"
type = "chat"
upstreams = ["${proxy.url}/v1"]
`);
    const started = proxy;
    return {
      upstream,
      proxy: started,
      gateway,
      close: async () => {
        await gateway.close();
        await started.close();
        await upstream.close();
      },
    };
  } catch (error) {
    await proxy?.close();
    await upstream.close();
    throw error;
  }
}
