// The error every wallet/keyfile problem is reported with: the message names the file, the cause and the fix.
export class WalletError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WalletError';
  }
}
