mod agent_git;
mod cli;
mod cluster;
mod edit;
mod images;
mod overlays;
mod regressions;
mod render;
