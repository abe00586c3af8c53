// The dashboard: a web page for a network (tessera devnet serves it; tessera dashboard for any devnet folder or chain).
export { startDashboard, dashboardApp, DASHBOARD_DEFAULT_PORT, type Dashboard } from './server.js';
export { DashboardSource, type SourceOptions } from './collect.js';
export { alertsOf, lossSeries, lossesFromLog, scoreRows, seriesOf, whyNoAggregate, type Alert, type AlertInput, type DashboardState, type LossSeries, type MinerView, type NodeView, type ScoreRow } from './model.js';
