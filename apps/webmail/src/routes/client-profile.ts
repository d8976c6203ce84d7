/** What a logged-in user downloads to set up another mail client: the Apple configuration profile (the Security page is settings.ts). */
import { Readable } from 'node:stream';
import type { Route } from '../server.js';
import { appleMobileconfig } from '../wellknown/clientconfig.js';

export const MOBILECONFIG_PATH = '/settings/mail.mobileconfig';

export const clientProfileRoutes: Route[] = [
  {
    method: 'GET',
    path: MOBILECONFIG_PATH,
    auth: true,
    handler: async (ctx) => {
      const user = ctx.session!.user;
      return {
        kind: 'download',
        // the type iOS and macOS open as a profile to install
        contentType: 'application/x-apple-aspen-config',
        filename: `${user}.mobileconfig`,
        inline: false,
        stream: Readable.from([Buffer.from(appleMobileconfig(ctx.state.config, user))]),
      };
    },
  },
];
