// A real TCP transfer between two network hosts, for the hosts tests (netns.test.ts, cut.test.ts).
import type { HostNet } from './netns.js';

const SERVER = `const n=require('net');const [bytes]=process.argv.slice(1).map(Number);n.createServer((s)=>{s.on('error',()=>{});const b=Buffer.alloc(65536);let left=bytes;const pump=()=>{while(left>0){left-=b.length;if(!s.write(b))return s.once('drain',pump);}s.end();};pump();}).listen(7000,()=>console.log('ready'));`;
const CLIENT = `const n=require('net');const [host,timeout]=process.argv.slice(1);const t0=Date.now();let got=0;const c=n.connect(7000,host);c.setTimeout(Number(timeout),()=>{console.log(JSON.stringify({error:'timeout'}));process.exit(0);});c.on('data',(d)=>{got+=d.length;});c.on('error',(e)=>{console.log(JSON.stringify({error:e.code}));process.exit(0);});c.on('end',()=>{console.log(JSON.stringify({bytes:got,ms:Date.now()-t0}));});`;

/** Starts the sender in `from`, receives in `to`; resolves with what the receiver saw. */
export async function transfer(net: HostNet, from: string, to: string, bytes: number, timeoutMs = 15_000): Promise<{ bytes?: number; ms?: number; error?: string }> {
  const server = net.spawn(from, process.execPath, ['-e', SERVER, String(bytes)], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((res, rej) => { server.stdout!.once('data', () => res()); server.once('exit', (c) => rej(new Error(`server exited ${c}`))); });
    const client = net.spawn(to, process.execPath, ['-e', CLIENT, net.host(from).ip, String(timeoutMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    client.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
    await new Promise((res) => client.once('exit', res));
    return JSON.parse(out.trim() || '{"error":"no output"}') as { bytes?: number; ms?: number; error?: string };
  } finally {
    server.kill('SIGKILL');
  }
}
