// build.js compiles Token.sol with the npm solc package into Token.json
// ({"abi": [...], "bin": "hex"}). Run in a scratch dir with solc installed:
//   mkdir /tmp/solc && cd /tmp/solc && npm install solc@0.8.37
//   NODE_PATH=/tmp/solc/node_modules node build.js   (from this testdata dir)
const fs = require('fs');
const path = require('path');
const solc = require('solc');

const src = fs.readFileSync(path.join(__dirname, 'Token.sol'), 'utf8');
const input = {
  language: 'Solidity',
  sources: { 'Token.sol': { content: src } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'shanghai',
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
for (const e of out.errors || []) {
  console.error(e.formattedMessage);
  if (e.severity === 'error') process.exit(1);
}
const c = out.contracts['Token.sol'].Token;
fs.writeFileSync(
  path.join(__dirname, 'Token.json'),
  JSON.stringify({ compiler: 'solc ' + solc.version(), abi: c.abi, bin: c.evm.bytecode.object }, null, 1) + '\n',
);
console.log('Token.json written by solc', solc.version());
