// Stopping the program over a user's mistake (config, inventory): Pulumi prints a RunError's
// message alone, without a stack trace.
import * as pulumi from "@pulumi/pulumi";

/** Stop the program with `message` and no stack trace. */
export function fail(message: string): never {
  throw new pulumi.RunError(message);
}
