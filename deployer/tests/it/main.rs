mod cli;
mod edit;
mod images;
mod overlays;
mod regressions;
mod render;
