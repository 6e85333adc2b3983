/** `tideway run` as a child process against this test run's services. */
import { startController as start, type ControllerEndpoints, type ControllerProcess, type LogLine } from "../env/controller-process.js";
import { services } from "./services.js";

export type { ControllerProcess, LogLine };

export function startController(options: { gitUrl: string; args?: string[]; env?: Record<string, string>; prefix?: string; endpoints?: Partial<ControllerEndpoints> }): Promise<ControllerProcess> {
  return start({ ...options, endpoints: { ...services(), ...options.endpoints } });
}
